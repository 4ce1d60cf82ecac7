import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { LookupFunction } from "node:net";
import { after, before, test } from "node:test";
import { BaseError } from "@verity/core";
import {
  checkEndpoint,
  checkEndpointUrl,
  createEndpointGuard,
  createForbiddenOfferLog,
  forbiddenAddressReason,
} from "./endpoint-guard.ts";
import { createHealthProber } from "./health-prober.ts";

const FORBIDDEN: [string, string][] = [
  ["0.0.0.0", "this-network"],
  ["0.1.2.3", "this-network"],
  ["10.0.0.5", "private"],
  ["10.255.255.255", "private"],
  ["100.64.0.1", "cgnat"],
  ["100.127.255.254", "cgnat"],
  ["127.0.0.1", "loopback"],
  ["127.8.9.10", "loopback"],
  ["169.254.169.254", "link-local"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "documentation"],
  ["192.168.1.1", "private"],
  ["198.18.0.1", "benchmarking"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.250", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "reserved"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["fc00::1", "unique-local"],
  ["fd12:3456:789a::1", "unique-local"],
  ["fe80::1", "link-local"],
  ["fe80::1%eth0", "link-local"],
  ["febf::1", "link-local"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "documentation"],
  ["::ffff:127.0.0.1", "ipv4-mapped loopback"],
  ["::ffff:7f00:1", "ipv4-mapped loopback"],
  ["::ffff:a9fe:a9fe", "ipv4-mapped link-local"],
  ["::ffff:10.0.0.5", "ipv4-mapped private"],
  ["::ffff:192.168.0.1", "ipv4-mapped private"],
  ["::127.0.0.1", "ipv4-compatible loopback"],
  ["64:ff9b::a9fe:a9fe", "nat64 link-local"],
  ["2002:7f00:1::", "6to4 loopback"],
  ["[::1]", "loopback"],
];

const PUBLIC = [
  "1.1.1.1",
  "8.8.8.8",
  "9.255.255.255",
  "11.0.0.1",
  "100.63.255.255",
  "100.128.0.1",
  "172.15.255.255",
  "172.32.0.1",
  "169.253.1.1",
  "192.167.1.1",
  "223.255.255.255",
  "2606:4700:4700::1111",
  "2a00:1450:4001::200e",
  "::ffff:8.8.8.8",
  "64:ff9b::808:808",
];

test("every private, loopback, CGNAT, link-local, multicast and reserved address is refused, with its range", () => {
  for (const [address, range] of FORBIDDEN) {
    const reason = forbiddenAddressReason(address);
    assert.ok(reason?.startsWith(range), `${address}: expected ${range}, got ${reason}`);
  }
});

test("public unicast addresses, IPv4 and IPv6, are allowed", () => {
  for (const address of PUBLIC) assert.equal(forbiddenAddressReason(address), undefined, address);
});

test("something that is not an IP address is refused as an address", () => {
  assert.match(forbiddenAddressReason("example.com") ?? "", /^not-an-ip/);
  assert.match(forbiddenAddressReason("1.2.3") ?? "", /^not-an-ip/);
});

test("endpoint URLs: only http and https without userinfo; IP literals in every spelling are checked", () => {
  assert.deepEqual(checkEndpointUrl("https://provider.example.com/v1"), { ok: true, host: "provider.example.com" });
  assert.equal(checkEndpointUrl("http://8.8.8.8:8080").ok, true);
  const refused: [string, RegExp][] = [
    ["ftp://provider.example.com/", /^scheme ftp/],
    ["file:///etc/passwd", /^scheme file/],
    ["gopher://10.0.0.5:70/", /^scheme gopher/],
    ["javascript:alert(1)", /^scheme javascript/],
    ["http://user:pass@provider.example.com/", /^userinfo/],
    ["http://user@provider.example.com/", /^userinfo/],
    ["not a url", /^not-a-url/],
    ["http://169.254.169.254/latest/meta-data/", /^link-local/],
    ["http://127.0.0.1:5432", /^loopback/],
    ["http://10.0.0.5/admin", /^private/],
    ["http://[::1]:8080/", /^loopback/],
    ["http://[::ffff:169.254.169.254]/", /^ipv4-mapped link-local/],
    ["http://[fe80::1]/", /^link-local/],
    ["http://2130706433/", /^loopback/], // 127.0.0.1 as one decimal number
    ["http://0x7f.1/", /^loopback/], // 127.0.0.1 in hex shorthand
    ["http://0177.0.0.1/", /^loopback/], // octal
    ["http://0/", /^this-network/],
  ];
  for (const [url, reason] of refused) {
    const verdict = checkEndpointUrl(url);
    assert.equal(verdict.ok, false, url);
    assert.match((verdict as { reason: string }).reason, reason, url);
  }
});

test("a host name that resolves to loopback (localhost) is refused; one that resolves only to public addresses is not", async () => {
  const verdict = await checkEndpoint({ url: "http://localhost:8080" });
  assert.equal(verdict.ok, false);
  assert.match((verdict as { reason: string }).reason, /^localhost resolves to loopback/);
  const fake = ((_host: string, _opts: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) =>
    cb(null, [
      { address: "93.184.215.14", family: 4 },
      { address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 },
    ])) as never;
  assert.deepEqual(await checkEndpoint({ url: "https://provider.example.com", lookup: fake }), { ok: true });
  const mixed = ((_host: string, _opts: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) =>
    cb(null, [
      { address: "93.184.215.14", family: 4 },
      { address: "10.1.2.3", family: 4 },
    ])) as never;
  const v = await checkEndpoint({ url: "https://provider.example.com", lookup: mixed });
  assert.equal(v.ok, false, "one private address among public ones is enough to refuse");
});

let server: Server;
let port: number;
let connections = 0;
let requests = 0;
before(async () => {
  server = createServer((req, res) => {
    requests++;
    if (req.url === "/redirect") {
      res.writeHead(302, { location: `http://127.0.0.1:${port}/health` }).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function refusal(promise: Promise<unknown>): Promise<BaseError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BaseError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

test("the guarded fetch refuses loopback literals and names before connecting; unguarded fetch reaches the same server", async () => {
  const guard = createEndpointGuard();
  const guarded = guard.wrap(fetch);
  const start = connections;
  for (const url of [
    `http://127.0.0.1:${port}/health`,
    `http://localhost:${port}/health`,
    `http://[::ffff:127.0.0.1]:${port}/`,
  ]) {
    const error = await refusal(guarded(url));
    assert.equal(error.code, "endpoint_forbidden", url);
  }
  assert.equal(connections, start, "no connection was made");
  const served = requests;
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  assert.equal(connections, start + 1);
  assert.equal(requests, served + 1);
  await guard.close();
});

test("DNS rebinding: a name that resolves to a public address when checked and to 127.0.0.1 when connecting is refused at connect time", async () => {
  let calls = 0;
  // First answer public (the pre-connection check), every later one loopback (the connection).
  const rebinding: LookupFunction = (_host, options, callback) => {
    calls++;
    const address = calls === 1 ? "93.184.215.14" : "127.0.0.1";
    if ((options as { all?: boolean }).all)
      (callback as (e: null, a: unknown[]) => void)(null, [{ address, family: 4 }]);
    else callback(null, address, 4);
  };
  const guard = createEndpointGuard({ lookup: rebinding });
  assert.deepEqual(await guard.check(`http://rebind.example.test:${port}`), { ok: true });
  const start = connections;
  const error = await refusal(guard.wrap(fetch)(`http://rebind.example.test:${port}/health`));
  assert.equal(error.code, "endpoint_forbidden");
  assert.match(String(error.details.reason), /resolves to loopback 127\.0\.0\.1/);
  assert.equal(connections, start, "the rebound address was never connected to");
  await guard.close();
});

test("a connection to a loopback IP literal that the URL check never saw (a redirect target) is refused at connect time", async () => {
  const guard = createEndpointGuard();
  // The wrapped fetch sees a public URL; what it actually connects to is 127.0.0.1, as when a public
  // endpoint redirects there. The connector refuses the literal address itself.
  const redirected = ((_input: unknown, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${port}/health`, init)) as typeof fetch;
  const start = connections;
  const error = await refusal(guard.wrap(redirected)("http://93.184.215.14/health"));
  assert.equal(error.code, "endpoint_forbidden");
  assert.match(String(error.details.reason), /^loopback 127\.0\.0\.1/);
  assert.equal(connections, start);
  await guard.close();
});

test("the prober marks a refused endpoint unhealthy with endpoint_forbidden without connecting; the log writes once per offer", async () => {
  const guard = createEndpointGuard();
  const lines: string[] = [];
  const log = createForbiddenOfferLog({
    offersAt: (url) =>
      url === `http://127.0.0.1:${port}` ? [{ offerId: 7n, agentId: 3n }] : [{ offerId: 8n, agentId: 4n }],
    write: (line) => lines.push(line),
  });
  const prober = createHealthProber({ guard, onForbidden: log.refused, onAllowed: log.allowed });
  const url = `http://127.0.0.1:${port}`;
  assert.equal(prober.get(url).healthy, false, "a forbidden literal is unhealthy before its first probe");
  assert.equal(prober.get(url).reason, "endpoint_forbidden");
  const start = connections;
  for (let i = 0; i < 3; i++) await prober.probeAll([url, `http://localhost:${port}`]);
  assert.equal(connections, start);
  assert.equal(prober.get(`http://localhost:${port}`).reason, "endpoint_forbidden");
  assert.equal(lines.length, 2, "one line per offer, however many probe rounds");
  assert.match(lines.find((l) => l.includes("offer 7")) ?? "", /offer 7 \(agent 3\) refused, endpoint_forbidden/);
  assert.match(lines.find((l) => l.includes("offer 8")) ?? "", /localhost resolves to loopback/);
  const served = requests;
  const open = createHealthProber();
  await open.probeAll([url]);
  assert.equal(open.get(url).healthy, true, "without a guard the same endpoint is probed and healthy");
  assert.equal(requests, served + 1);
  await guard.close();
});
