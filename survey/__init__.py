"""Pure domain of the callback and satisfaction-survey service.

Standard library only: no Flask, SQLAlchemy, Celery or Twilio imports here
(docs/architecture.md §Architecture contracts).
Modules: ``scale`` (ratings), ``questionnaire`` (篇2 二 items), ``replies`` (SMS reply parsing),
``complaints`` (keywords in suggestions), ``scoring`` (window scores and grades, 篇2 六),
``assessment`` (篇3 (五) rules).
"""
