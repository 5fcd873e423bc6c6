"""Grid governance (网格化管理): what people see and report, from report to verified closure."""
