"""The Papers With Code API at ``/api/v1/``: read-only, in the shapes ``paperswithcode-client``
0.3.1 parses (ids, field names and types of its pydantic models; ``page`` and
``items_per_page``; ``{count, next, previous, results}``), plus VeriSOTA's own fields where the
client ignores extra fields. Ids are slugs (a result's id is its number as a string)."""
