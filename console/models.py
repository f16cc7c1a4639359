# The console owns no tables. This module exists because Django sends ``post_migrate`` only
# to apps with a models module, and the Support group is synced on it (ConsoleConfig.ready).
