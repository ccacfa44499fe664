/**
 * Lab: two computers (sections 12.4 and 12.5: "try this with two
 * computers"). `deno task lab two-computers`
 *
 * Computer A (10.77.0.1) runs the chapter's servers; computer B
 * (10.77.0.2) runs their clients and reaches them through a cable. What to
 * look for:
 *
 * 1. A server on 127.0.0.1 (the lessons' default) cannot be reached from
 *    B: the connection is refused. 127.0.0.1 is every computer's own
 *    loopback; the server listens only to its own computer.
 * 2. With the server on 0.0.0.0 ("every address of this computer"), the
 *    client still fails if Deno's --allow-net does not name the address
 *    it dials: the deno.json tasks allow only 127.0.0.1, and the lesson
 *    says in one sentence which flag it needs.
 * 3. With both right, tcp-server, json-server and the chat (Activity
 *    12.1) answer B at 10.77.0.1: the same programs, two computers.
 *
 * @module
 */
import {
  type Computer,
  heading,
  type Lab,
  LabError,
  paragraph,
  type Program,
} from "./kit.ts";

const SERVER = "chapters/12_4_tcp_server.ts";
const LISTENER = "chapters/12_4_tcp_listener.ts";
const SERVER_JSON = "chapters/12_5_json_server.ts";
const CLIENT_JSON = "chapters/12_5_json_client.ts";

/** Fails the run (exit 1) if the experiment did not show what it should. */
function expect(ok: boolean, what: string, program: Program): void {
  if (!ok) {
    throw new LabError(
      `${what}; ${program.name} printed: ${JSON.stringify(program.output)}`,
    );
  }
}

export async function twoComputers(lab: Lab): Promise<void> {
  console.log(
    'Lab: two computers (sections 12.4 and 12.5, "try this with two computers")',
  );
  const a: Computer = await lab.computer("A");
  const b: Computer = await lab.computer("B");
  await lab.cable(a, "10.77.0.1/24", b, "10.77.0.2/24");
  paragraph(
    `Computer A has the address 10.77.0.1 and computer B 10.77.0.2; a cable
    joins them (each is a Linux network namespace, the cable a veth pair).
    "A $ command" below means the command runs on A, as
    "ip netns exec ${a.ns} command" (and --no-prompt is added to every
    deno run).`,
  );

  heading("1. A's server listens on 127.0.0.1, the lessons' default");
  let server = lab.deno(a, ["--allow-net=127.0.0.1:10001"], SERVER);
  await server.listening();
  const refused = lab.deno(b, ["--allow-net=10.77.0.1:10001"], LISTENER, [
    ...["--host", "10.77.0.1", "--timeout", "5"],
  ]);
  await refused.finish();
  await server.stop();
  expect(
    refused.ended?.code === 1 && /connection refused/.test(refused.output),
    "B's connection to a server on 127.0.0.1 was not refused",
    refused,
  );
  paragraph(
    `B's connection was refused. 127.0.0.1 is each computer's own loopback:
    A's server listened only to programs on A, and A answered B's knock at
    10.77.0.1:10001 with "nothing here" (a TCP reset).`,
    "  ",
  );

  heading("2. A's server listens on 0.0.0.0; B uses the task's permission");
  server = lab.deno(a, ["--allow-net=0.0.0.0:10001"], SERVER, [
    ...["--host", "0.0.0.0"],
  ]);
  await server.listening();
  const denied = lab.task(b, "tcp-listener", ["--host", "10.77.0.1"]);
  await denied.finish();
  expect(
    denied.ended?.code === 1 && denied.output.includes("--allow-net=10.77.0.1"),
    "the task's permission did not stop B from dialling 10.77.0.1",
    denied,
  );
  paragraph(
    `0.0.0.0 means "every address of this computer", the cable's 10.77.0.1
    included. But the tcp-listener task allows only 127.0.0.1 (and ::1,
    localhost): Deno refused to dial 10.77.0.1 before a single packet
    left, and the lesson said which --allow-net it needs.`,
    "  ",
  );

  heading("3. Done right: servers on 0.0.0.0, clients allowed 10.77.0.1");
  const greeted = lab.deno(b, ["--allow-net=10.77.0.1:10001"], LISTENER, [
    ...["--host", "10.77.0.1"],
  ]);
  await greeted.finish();
  expect(
    greeted.ended?.code === 0 && /Hi new friend!/.test(greeted.output),
    "B did not get A's greeting",
    greeted,
  );
  await server.line(/10\.77\.0\.2/); // "Connection from: 10.77.0.2:PORT"
  await server.stop();

  const echo = lab.deno(a, ["--allow-net=0.0.0.0:12345"], SERVER_JSON, [
    ...["--host", "0.0.0.0"],
  ]);
  await echo.listening();
  const json = lab.deno(b, ["--allow-net=10.77.0.1:12345"], CLIENT_JSON, [
    ...["--host", "10.77.0.1"],
  ]);
  await json.finish();
  expect(
    json.ended?.code === 0 && /Johanna/.test(json.output),
    "B did not get its JSON back from A's echo server",
    json,
  );
  await echo.line(/10\.77\.0\.2/); // the server saw B's address
  await echo.stop();

  const alice = lab.deno(a, ["--allow-net=0.0.0.0:10002"], "chat/chat.ts", [
    ...["server", "--username", "alice", "--host", "0.0.0.0"],
  ], { stdin: true });
  await alice.listening();
  await alice.write("hi bob\n"); // alice's answer, typed ahead
  const bob = lab.deno(b, ["--allow-net=10.77.0.1:10002"], "chat/chat.ts", [
    ...["client", "--username", "bob", "--host", "10.77.0.1"],
  ], { stdin: true });
  await bob.write("hello alice\n"); // then end of input: bob leaves
  await bob.closeStdin();
  await bob.finish();
  await alice.line(/bob left/);
  await alice.stop();
  expect(
    bob.ended?.code === 0 && /alice: hi bob/.test(bob.output) &&
      /bob: hello alice/.test(alice.output),
    "alice and bob did not chat from A to B",
    bob,
  );

  heading("What this showed");
  paragraph(
    `The same lessons worked between two computers. B reached A's
    greeting server, echo server and chat at 10.77.0.1, A's address on the
    cable, once the servers listened on 0.0.0.0 (every address of A) and
    the clients' --allow-net named 10.77.0.1. A server on 127.0.0.1 was out
    of B's reach (connection refused), and with the task's own permission
    Deno refused to dial 10.77.0.1 at all.`,
  );
}
