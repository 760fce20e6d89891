"""The one search path for the API, the CLI and the server: query parts, stored parts, the choice of space,
per-file collapsing and result rows."""
