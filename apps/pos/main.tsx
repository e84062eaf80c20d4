import { render } from "preact";
import "../shared/base.css";
import "./pos.css";
import { App } from "./app";

// The service worker keeps the app shell for offline starts; the page works without it too.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/pos-sw.js", { scope: "/pos" }).catch((error: unknown) => {
    console.error("the POS service worker could not be registered; offline starts will not work", error);
  });
}

const root = document.getElementById("app");
if (root === null) throw new Error("the POS page has no #app element");
render(<App />, root);
