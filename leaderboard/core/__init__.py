"""Small shared helpers, also used by `evaluator`: bounded JSON, query parsers, links, caches."""
