"""Electronic evaluator (电子评价器) data: the presses citizens make at a window, imported from device and 好差评
exports (files or the API), read by the weekly and monthly reports (篇2 六) and the staff assessment (篇3 (五)1)."""
