/**
 * The POS: signed in (a terminal token on this device) it is the till; otherwise the sign-in
 * screen. A token arriving as `/pos#token=…` is kept and removed from the address bar.
 */
import { useEffect, useState } from "preact/hooks";
import { SignIn } from "../shared/sign-in";
import { isExpired, readClaims, takeTokenFromAddressBar, type SignedIn } from "../shared/token";
import { openSession, slotFor, tokens, type Session } from "./session";
import { Till } from "./till";

/** Keep a token in its slot; answer why not when it cannot be used here. */
function keep(token: string): string | null {
  const claims = readClaims(token);
  if (claims === null) return "That sign-in link did not carry a valid token.";
  const slot = slotFor(claims.role);
  if (slot === null) return claims.role === "manager" ? "That is a manager's sign-in: open /manager instead." : `A ${claims.role} token cannot sign in to a till.`;
  if (slot === "terminal" && claims.store === undefined) return "That till token names no store.";
  tokens.set(slot, token);
  return null;
}

export function App() {
  const [notice, setNotice] = useState<string | null>(() => {
    const token = takeTokenFromAddressBar();
    return token === null ? null : keep(token);
  });
  const [terminal, setTerminal] = useState<SignedIn | null>(() => tokens.get("terminal"));
  const [session, setSession] = useState<Session | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  // A sign-in page may hand this open page a new token (a fragment change does not reload it).
  useEffect(() => {
    const onHash = () => {
      const token = takeTokenFromAddressBar();
      if (token === null) return;
      const why = keep(token);
      setNotice(why);
      if (why === null) setTerminal(tokens.get("terminal"));
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (terminal === null) return;
    let current: Session | null = null;
    let cancelled = false;
    openSession(terminal).then(
      (s) => {
        if (cancelled) void s.close();
        else setSession((current = s));
      },
      (e: unknown) => setFailure(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      cancelled = true;
      void current?.close();
      setSession(null);
    };
  }, [terminal?.token]);

  if (failure !== null) return <p role="alert" class="card tone-error">This till could not start: {failure}</p>;
  if (terminal === null) {
    return (
      <SignIn
        app="pos"
        roles={["terminal"]}
        notice={notice}
        onToken={(token) => {
          const why = keep(token);
          setNotice(why);
          if (why === null) setTerminal(tokens.get("terminal"));
        }}
      />
    );
  }
  if (session === null) return <p class="muted">Opening the till…</p>;
  const expired = isExpired(terminal.claims, Date.now());
  return (
    <>
      {expired && <p role="alert" class="card tone-error">This till's sign-in has expired: sales are kept on this device until it signs in again.</p>}
      <Till
        session={session}
        onSignOut={() => {
          tokens.clear("terminal");
          setTerminal(null);
        }}
      />
    </>
  );
}
