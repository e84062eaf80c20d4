/**
 * A Durable Object's tables in the shape that writes fewest rows (each table row and each index
 * entry written is a row billed). Tables keyed by text are `WITHOUT ROWID`: the row lives in its
 * primary key's b-tree, so inserting one writes one row instead of a row and a separate
 * primary-key entry. Objects made before a table changed shape keep their rows: the table is
 * rebuilt once, in the new shape, the first time the object opens its storage.
 */

/** Whether an existing table's CREATE statement (from sqlite_master) already has the new shape. */
export type ShapeTest = (existing: string) => boolean;

export const isWithoutRowid: ShapeTest = (existing) => /WITHOUT\s+ROWID/i.test(existing);

/**
 * Make `table` with `create` (a `CREATE TABLE IF NOT EXISTS <table> ...`), then `indexes`. A table
 * of that name in an older shape (`current` says no) is rebuilt: the columns both shapes have are
 * copied into the new one, and the old table with its indexes dropped. Synchronous, so it commits
 * as one write with whatever else the object does before its first await.
 */
export function ensureTable(sql: SqlStorage, table: string, create: string, opts: { current?: ShapeTest; indexes?: string | undefined } = {}): void {
  const current = opts.current ?? isWithoutRowid;
  const existing = sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).toArray()[0];
  if (existing !== undefined && !current(existing.sql)) {
    const rebuilt = `${table}_rebuilt`;
    const columnsOf = (t: string): string[] => sql.exec<{ name: string }>(`PRAGMA table_info(${t})`).toArray().map((c) => c.name);
    sql.exec(`DROP TABLE IF EXISTS ${rebuilt}`);
    sql.exec(create.replace(`CREATE TABLE IF NOT EXISTS ${table} `, `CREATE TABLE ${rebuilt} `));
    const kept = columnsOf(table).filter((c) => columnsOf(rebuilt).includes(c)).map((c) => `"${c}"`).join(", ");
    sql.exec(`INSERT INTO ${rebuilt} (${kept}) SELECT ${kept} FROM ${table}`);
    sql.exec(`DROP TABLE ${table}`);
    sql.exec(`ALTER TABLE ${rebuilt} RENAME TO ${table}`);
  } else {
    sql.exec(create);
  }
  if (opts.indexes !== undefined) sql.exec(opts.indexes);
}
