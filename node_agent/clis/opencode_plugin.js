// studio's OpenCode plugin: OpenCode's turn signals to the node daemon, and mail to the model.
//
// It speaks the daemon's hook protocol (node_agent/hook_client.py) over the daemon's unix
// socket: a line "EVENT AGENT LENGTH", the event's JSON, then the reply "EXIT\nOUTPUT" where
// OUTPUT is Claude-style hook JSON. Outside a studio-managed session (no STUDIO_AGENT_ID) it does
// nothing. A daemon that is not there costs nothing and never blocks OpenCode.
import net from "node:net"
import path from "node:path"
import os from "node:os"

const AGENT = process.env.STUDIO_AGENT_ID || ""
const HOME = process.env.STUDIO_HOME || path.join(os.homedir(), ".studio")
const SOCKET = path.join(HOME, "run", `${process.env.STUDIO_TEAM || "main"}.sock`)
const TIMEOUT_MS = 2000

function ask(event, payload) {
  return new Promise((resolve) => {
    const chunks = []
    const sock = net.createConnection(SOCKET)
    const done = (value) => {
      sock.destroy()
      resolve(value)
    }
    sock.setTimeout(TIMEOUT_MS, () => done(null))
    sock.on("error", () => done(null))
    sock.on("connect", () => {
      const body = Buffer.from(JSON.stringify(payload || {}))
      sock.write(`${event} ${AGENT} ${body.length}\n`)
      sock.write(body)
    })
    sock.on("data", (chunk) => chunks.push(chunk))
    sock.on("end", () => {
      const text = Buffer.concat(chunks).toString()
      const output = text.slice(text.indexOf("\n") + 1).trim()
      try {
        done(output ? JSON.parse(output) : null)
      } catch {
        done(null)
      }
    })
  })
}

function context(reply) {
  return reply?.hookSpecificOutput?.additionalContext || ""
}

export const StudioPlugin = async ({ client }) => {
  if (!AGENT) return {}
  // Per session: the turn failed (its idle events are not a completed turn), and whether
  // the last turn end already handed over mail (like Claude's stop_hook_active).
  const failed = new Set()
  const continued = new Set()
  const busy = new Set()
  await ask("SessionStart", { source: "opencode-plugin" })
  return {
    "chat.message": async (input) => {
      failed.delete(input.sessionID)
      busy.add(input.sessionID)
      await ask("resumed", { session_id: input.sessionID })
    },
    "tool.execute.after": async (input, output) => {
      const note = context(await ask("PostToolUse", { tool_name: input.tool }))
      if (!note) return
      if (Array.isArray(output?.content)) output.content.push({ type: "text", text: note })
      else if (typeof output?.output === "string") output.output += `\n\n${note}`
    },
    event: async ({ event }) => {
      const props = event.properties || {}
      const session = props.sessionID
      if (event.type === "permission.asked") {
        await ask("permission", { tool_name: props.permission })
      } else if (event.type === "permission.replied") {
        await ask("resumed", {})
      } else if (event.type === "session.error") {
        failed.add(session)
        busy.delete(session)
        const error = props.error || {}
        await ask("turn-failed", { error: error.data?.message || error.name || "error" })
      } else if (event.type === "session.idle" && busy.has(session)) {
        busy.delete(session)
        if (failed.has(session)) return
        const reply = await ask("Stop", { stop_hook_active: continued.has(session) })
        if (reply?.decision === "block" && reply.reason) {
          continued.add(session)
          busy.add(session)
          await client.session.promptAsync({
            path: { id: session },
            body: { parts: [{ type: "text", text: reply.reason }] },
          })
        } else {
          continued.delete(session)
        }
      }
    },
  }
}
