/**
 * Every exercise, in the book's order. Each check lives in checks/, with
 * the lesson lines its hints point to.
 *
 * @module
 */
import type { Exercise } from "./kit.ts";
import { myAddress } from "./checks/my_address.ts";
import { timeServer } from "./checks/time_server.ts";
import { checksum } from "./checks/checksum.ts";
import { labLoss } from "./checks/lab_loss.ts";
import { dualStack } from "./checks/dual_stack.ts";
import { wholeGreeting } from "./checks/whole_greeting.ts";
import { udpRetry } from "./checks/udp_retry.ts";
import { lengthPrefix } from "./checks/length_prefix.ts";
import { jsonLines } from "./checks/json_lines.ts";
import { safeObjects } from "./checks/safe_objects.ts";

export const EXERCISES: Exercise[] = [
  myAddress,
  timeServer,
  checksum,
  labLoss,
  dualStack,
  wholeGreeting,
  udpRetry,
  lengthPrefix,
  jsonLines,
  safeObjects,
];
