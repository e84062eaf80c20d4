// A throwaway PostgreSQL cluster for a benchmark peer: Debian's PostgreSQL (15 by default) on a
// fresh data directory in the system temp folder, on a free loopback port, with fsync and
// synchronous commit on (a peer without durability is not a peer), removed again by stop().
//
// PostgreSQL refuses to run as root, so when this process is root the directory belongs to the
// `postgres` user and initdb / pg_ctl run as that user (`runuser -u postgres --`).
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const HOST = "127.0.0.1";
const DEFAULT_BIN = "/usr/lib/postgresql/15/bin";
const OS_USER = "postgres";
const START_TIMEOUT_S = 60;

export const INSTALL_HINT = "install it with `apt-get install -y postgresql` (Debian 12: PostgreSQL 15), or set PG_BIN to a directory holding initdb and pg_ctl";

/** The directory holding initdb and pg_ctl (PG_BIN, else Debian's PostgreSQL 15), or null. */
export function findPostgres() {
  const bin = process.env.PG_BIN ?? DEFAULT_BIN;
  return existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl")) ? bin : null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** `id -u` / `id -g` of a user, or null when there is no such user. */
async function userIds(name) {
  try {
    const uid = Number((await run("id", ["-u", name])).stdout.trim());
    const gid = Number((await run("id", ["-g", name])).stdout.trim());
    return { uid, gid };
  } catch {
    // No such user: the caller says what to do.
    return null;
  }
}

/**
 * Starts a cluster. Resolves with { port, user, connectionString(database), createDatabase(name),
 * dataDir, stop() }; stop() shuts it down (fast mode) and removes the data directory.
 */
export async function startPostgres({ bin = findPostgres(), log = () => {} } = {}) {
  if (bin === null) throw new Error(`PostgreSQL not found: ${INSTALL_HINT}`);
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  let user = os.userInfo().username;
  let ids = null;
  if (asRoot) {
    ids = await userIds(OS_USER);
    if (ids === null) throw new Error(`running as root, PostgreSQL needs the unprivileged user "${OS_USER}" (it comes with the Debian package): ${INSTALL_HINT}`);
    user = OS_USER;
  }
  const pg = (tool, args) => (asRoot ? run("runuser", ["-u", OS_USER, "--", join(bin, tool), ...args]) : run(join(bin, tool), args));

  const dataDir = mkdtempSync(join(os.tmpdir(), "edgestock-pg-"));
  if (ids !== null) chownSync(dataDir, ids.uid, ids.gid);
  const port = await freePort();
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  let started = false;
  try {
    log(`initdb ${dataDir}`);
    // --no-sync only skips initdb's own flush of the files it writes; the server below runs with
    // fsync on. Trust authentication: the cluster listens on loopback only and lives for one run.
    await pg("initdb", ["-D", dataDir, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    const settings = [
      `-c port=${port}`,
      `-c listen_addresses=${HOST}`,
      `-c unix_socket_directories=${dataDir}`,
      "-c fsync=on",
      "-c synchronous_commit=on",
      "-c full_page_writes=on",
      "-c max_connections=100",
    ].join(" ");
    log(`starting PostgreSQL on ${HOST}:${port} (fsync on)`);
    await pg("pg_ctl", ["-D", dataDir, "-l", join(dataDir, "server.log"), "-w", "-t", String(START_TIMEOUT_S), "-o", settings, "start"]);
    started = true;
  } catch (e) {
    const serverLog = existsSync(join(dataDir, "server.log")) ? readFileSync(join(dataDir, "server.log"), "utf8").slice(-2000) : "";
    remove();
    throw new Error(`PostgreSQL did not start: ${e.stderr?.trim() || e.message}${serverLog ? `\n${serverLog}` : ""}`, { cause: e });
  }

  const connectionString = (database = "postgres") => `postgres://${encodeURIComponent(user)}@${HOST}:${port}/${database}`;
  let stopping = null;
  return {
    port,
    user,
    dataDir,
    connectionString,
    /** A new, empty database (createdb); resolves with its connection string. */
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${name} must be a plain identifier`);
      await pg("createdb", ["-h", HOST, "-p", String(port), "-U", user, name]);
      return connectionString(name);
    },
    stop() {
      stopping ??= (async () => {
        if (started) await pg("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch((e) => log(`pg_ctl stop failed: ${e.stderr?.trim() || e.message}`));
        remove();
      })();
      return stopping;
    },
    /** Synchronous last resort (process exit): kill the postmaster and remove the directory. */
    stopNow() {
      try {
        const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
        if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGQUIT");
      } catch {
        // Not running (or already gone): only the directory is left to remove.
      }
      remove();
    },
  };
}
