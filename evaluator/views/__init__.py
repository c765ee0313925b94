"""The evaluator's views: accounts, the submission pages (web) and the submissions API."""
