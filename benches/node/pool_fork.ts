// The hand-written child_process.fork pool's child: answers each message with itself.
process.on('message', (m) => process.send!(m));
