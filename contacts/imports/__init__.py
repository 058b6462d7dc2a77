"""CSV import of contacts: ``sniff`` (encoding, delimiter, preview), ``mapping`` (columns to
fields, the guess from header names, checks), ``rows`` (rows to contacts in batches) and
``services`` (upload, start, run, resume, report). The duplicate and update rules are in the
docstring of ``rows``."""
