import assert from "node:assert/strict";
import { test } from "node:test";
import { createOutputTextStream } from "./output-text-stream.ts";

/** A byte-per-token detokenizer: token = byte value. */
const bytes = (tokens: readonly number[]) => new TextDecoder().decode(Uint8Array.from(tokens));
const encode = (text: string) => [...new TextEncoder().encode(text)];

function run(text: string, stop: string[]) {
  const stream = createOutputTextStream({ stop, detokenize: bytes });
  const parts: string[] = [];
  let stoppedAt = -1;
  const tokens = encode(text);
  for (let i = 0; i < tokens.length; i++) {
    const step = stream.push(tokens[i]!);
    parts.push(step.text);
    if (step.stopped) {
      stoppedAt = i;
      break;
    }
  }
  parts.push(stream.finish());
  return { text: parts.join(""), parts, stoppedAt };
}

test("streams text unchanged without stop sequences, never splitting a UTF-8 character", () => {
  const { text, parts } = run("héllo 日本 🎉!", []);
  assert.equal(text, "héllo 日本 🎉!");
  for (const part of parts) assert.ok(!part.includes("\uFFFD"), JSON.stringify(parts));
});

test("cuts the text before the first stop sequence and stops on the token that completes it", () => {
  const result = run("Hello world\nUser: more", ["\nUser:", "zzz"]);
  assert.equal(result.text, "Hello world");
  assert.equal(result.stoppedAt, "Hello world\nUser:".length - 1);
});

test("holds back a possible stop prefix and releases it when it does not match", () => {
  const stream = createOutputTextStream({ stop: ["END"], detokenize: bytes });
  assert.deepEqual(stream.push(65), { text: "A", stopped: false });
  assert.deepEqual(stream.push(69), { text: "", stopped: false }); // "E" may start "END"
  assert.deepEqual(stream.push(78), { text: "", stopped: false }); // "EN"
  assert.deepEqual(stream.push(88), { text: "ENX", stopped: false });
  assert.equal(stream.finish(), "");
});

test("releases a held-back prefix at the end of generation", () => {
  const result = run("done EN", ["END"]);
  assert.equal(result.text, "done EN");
  assert.equal(result.stoppedAt, -1);
});

test("earliest stop sequence wins when several match", () => {
  assert.equal(run("a.b!c", ["!", "."]).text, "a");
});
