"""Local Tryton 8.2 ERP for development and tests (see erp.py)."""
