/**
 * The regional manager's dashboard: the region overview, and a count's report. A manager token
 * arriving as `/manager#token=…` is kept on this device and removed from the address bar.
 */
import { useEffect, useState } from "preact/hooks";
import { SignIn } from "../shared/sign-in";
import { isExpired, readClaims, takeTokenFromAddressBar, TokenStore, type SignedIn } from "../shared/token";
import { Overview } from "./overview";
import { Report } from "./report";

const tokens = new TokenStore("edgestock.manager");

function keep(token: string): string | null {
  const claims = readClaims(token);
  if (claims === null) return "That sign-in link did not carry a valid token.";
  if (claims.role !== "manager" || claims.region === undefined) return claims.role === "terminal" ? "That is a till's sign-in: open /pos instead." : "Only a regional manager's token opens the dashboard.";
  tokens.set("manager", token);
  return null;
}

const countInUrl = (): string | null => new URLSearchParams(location.search).get("count");

export function App() {
  const [notice, setNotice] = useState<string | null>(() => {
    const token = takeTokenFromAddressBar();
    return token === null ? null : keep(token);
  });
  const [manager, setManager] = useState<SignedIn | null>(() => tokens.get("manager"));
  const [countId, setCountId] = useState<string | null>(countInUrl);
  useEffect(() => {
    const onPop = () => setCountId(countInUrl());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  // A sign-in page may hand this open page a new token (a fragment change does not reload it).
  useEffect(() => {
    const onHash = () => {
      const token = takeTokenFromAddressBar();
      if (token === null) return;
      const why = keep(token);
      setNotice(why);
      if (why === null) setManager(tokens.get("manager"));
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const open = (id: string | null) => {
    history.pushState(null, "", id === null ? "/manager" : `/manager?count=${encodeURIComponent(id)}`);
    setCountId(id);
  };

  if (manager === null || isExpired(manager.claims, Date.now())) {
    return (
      <SignIn
        app="manager"
        roles={["manager"]}
        notice={manager !== null ? "Your sign-in has expired." : notice}
        onToken={(token) => {
          const why = keep(token);
          setNotice(why);
          if (why === null) setManager(tokens.get("manager"));
        }}
      />
    );
  }
  const region = manager.claims.region ?? "?";
  return (
    <div class="dashboard">
      <header class="dash-header">
        <strong>edgestock manager</strong>
        <span>
          {manager.claims.sub} · region {region}
        </span>
        <button
          onClick={() => {
            tokens.clear("manager");
            setManager(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>{countId === null ? <Overview token={manager.token} region={region} onOpenCount={(id) => open(id)} /> : <Report token={manager.token} countId={countId} onBack={() => open(null)} />}</main>
    </div>
  );
}
