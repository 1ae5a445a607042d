"""Case ledger (受理台账) import: header mapping, value parsing and file reading; the DB importer builds on them."""
