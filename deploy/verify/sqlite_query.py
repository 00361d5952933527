"""Prints a query's rows as psql -At does (|-separated, no header): smoke.py's --sql for
an SQLite database, in deploy/verify/nginx.sh."""

import sqlite3
import sys

if __name__ == "__main__":
    path, query = sys.argv[1], sys.argv[2]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        for row in connection.execute(query):
            print("|".join("" if value is None else str(value) for value in row))
