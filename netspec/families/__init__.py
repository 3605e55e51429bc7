"""Block types beyond basic and bottleneck, one family per pair of modules: NAME.py (the plan and options,
no torch) and NAME_block.py (the class, forward only). Each registers in netspec/registry.py."""
