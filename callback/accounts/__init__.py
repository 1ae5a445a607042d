"""Console accounts and roles (issue 14 §1): ``roles`` (who may do what, as data), ``services`` (users, the login
check and its throttle, the audit trail) and ``cli`` (``callback users …``)."""
