"""Retention (个人信息保护法 第十九条: kept no longer than the purpose needs): recordings deleted, citizens' numbers
and names replaced by a keyed hash once their time is up (services.py); `callback purge` (cli.py) and the daily
beat task ``worker.tasks.purge`` run it."""
