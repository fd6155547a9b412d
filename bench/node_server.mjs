// The baseline: the same job as server.ts done the idiomatic Node.js way
// (socket.on("data"), split on newlines, toUpperCase, write per line).
// Usage: node bench/node_server.mjs [port]   (0 picks a free port, printed)
import net from "node:net";

const server = net.createServer((socket) => {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop();
    for (const line of lines) {
      if (line.trim() === "DESCONEXION") return void socket.end();
      socket.write(line.toUpperCase() + "\n");
    }
  });
  socket.on("error", () => {});
});
server.listen(Number(process.argv[2] ?? 5000), "127.0.0.1", () => {
  console.log(`Listening on 127.0.0.1:${server.address().port}`);
});
