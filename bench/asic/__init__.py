"""ASIC miners measured over their own APIs (``bench asic``), through pyasic.

hosts.py parses the HOST arguments; fields.py says which firmware field every figure comes
from; poll.py identifies and polls the miners (the only module that imports pyasic); document.py
turns the polls into a result file of the same format as ``bench run``.
"""
