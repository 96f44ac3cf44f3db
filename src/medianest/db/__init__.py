"""Database: engine and session factory, the declarative Base, migrations."""
