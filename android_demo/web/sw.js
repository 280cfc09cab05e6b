// Offline once loaded: every file of the built app (the list build.py writes as files.json) is
// cached on install; requests are answered from the cache first, then the network. Responses get
// the cross-origin-isolation headers, so threads keep working offline.
const CACHE = "arnet-phone-v1";

self.addEventListener("install", (e) => {
  e.waitUntil((async () => {
    const files = await (await fetch("./files.json", { cache: "no-store" })).json();
    const c = await caches.open(`${CACHE}-${files.version}`);
    await c.addAll(files.files.map((f) => new Request(f, { cache: "no-store" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (e) => {
  e.waitUntil((async () => {
    const files = await (await caches.match("./files.json")) ?? null;
    const keep = files ? `${CACHE}-${(await files.json()).version}` : null;
    for (const k of await caches.keys()) if (keep && k.startsWith(CACHE) && k !== keep) await caches.delete(k);
    await self.clients.claim();
  })());
});

function isolated(r) {
  if (!r || r.type === "opaque") return r;
  const h = new Headers(r.headers);
  h.set("Cross-Origin-Opener-Policy", "same-origin");
  h.set("Cross-Origin-Embedder-Policy", "require-corp");
  h.set("Cross-Origin-Resource-Policy", "same-origin");
  return new Response(r.body, { status: r.status, statusText: r.statusText, headers: h });
}

self.addEventListener("fetch", (e) => {
  if (e.request.method !== "GET") return;
  e.respondWith((async () => {
    const hit = await caches.match(e.request, { ignoreSearch: true });
    return isolated(hit || await fetch(e.request));
  })());
});
