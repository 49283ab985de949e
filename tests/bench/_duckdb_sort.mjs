// Sorts the lines of a text file with DuckDB in byte order under a memory limit, the way a
// user would reach for it instead of `sort`: one VARCHAR column per line, ORDER BY ... COLLATE
// "C", written back as plain lines. Used by sort_vs_duckdb.sh (run with Node, not Deno: the
// DuckDB bindings are a native Node add-on).
//
// Usage: node _duckdb_sort.mjs INPUT OUTPUT MEMORY_LIMIT THREADS TEMP_DIR
// Exit 0 when sorted; 3 when DuckDB ran out of memory (one line on stderr); 1 on other errors.
// A specifier in a variable: the bindings exist only where sort_vs_duckdb.sh installed them.
const api = "@duckdb/node-api";
const { DuckDBInstance } = await import(api);

const [input, output, memoryLimit, threads, tempDir] = process.argv.slice(2);
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
// \x01 as the column delimiter (absent from the corpora); no quoting, no escaping, no header.
const csv =
  "header=false, delim='\\x01', quote='', escape='', new_line='\\n', auto_detect=false, " +
  "columns={'line': 'VARCHAR'}, strict_mode=false";
const sql = `COPY (SELECT line FROM read_csv(${quote(input)}, ${csv}) ORDER BY line COLLATE "C") ` +
  `TO ${quote(output)} (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x01')`;
try {
  const db = await DuckDBInstance.create(":memory:", {
    memory_limit: memoryLimit,
    threads,
    temp_directory: tempDir,
    preserve_insertion_order: "false",
  });
  const connection = await db.connect();
  await connection.run(sql);
} catch (error) {
  const message = String(error?.message ?? error).split("\n")[0];
  process.stderr.write(`duckdb: ${message}\n`);
  process.exit(/out of memory/i.test(message) ? 3 : 1);
}
