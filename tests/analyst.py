"""An analyst's session in its own process: one read-only DuckDB connection held open until told.

Reads commands from stdin, one per line: ``query <sql>`` prints the first value of the first row,
``reconnect`` closes and reopens the connection, ``quit`` ends. Prints ``ready`` once connected, so a
test knows the connection (and DuckDB's shared lock on the file) is held.
"""

import sys

import duckdb


def main(path: str) -> None:
    con = duckdb.connect(path, read_only=True)
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "query":
            try:
                print(con.execute(argument).fetchall()[0][0], flush=True)
            except duckdb.Error as exc:
                print(f"error {str(exc).splitlines()[0]}", flush=True)
        elif command == "reconnect":
            con.close()
            con = duckdb.connect(path, read_only=True)
            print("ready", flush=True)
        elif command == "quit":
            break
    con.close()


if __name__ == "__main__":
    main(sys.argv[1])
