"""The read API (`/api/`): urls, views, filters, pagination, serializers."""
