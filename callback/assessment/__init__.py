"""篇3 《前台工作人员考核办法》 on the application side: supervisors' entries (`entries`, `template`), each staff
member's month and year from the entries and our own data (`services`, `annual`), the monthly bulletin and its
approval (`bulletin`), workbooks (`workbook`) and `callback assess` (`cli`). The rules are `survey.assessment`'s."""
