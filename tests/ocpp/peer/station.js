// A charging station scripted over stdin/stdout, built on ocpp-rpc in strict mode (an
// independent OCPP-J implementation that validates every frame it sends and receives
// against the official JSON schemas).
//
//   node station.js URL IDENTITY PASSWORD PROTOCOL
//
// For wss:// (OCPP security profiles 2 and 3) the environment names PEM files:
// OCPP_CA (the CSMS's CA), OCPP_CERT and OCPP_KEY (the station's own, profile 3). An
// empty PASSWORD sends no basic auth (profile 3).
//
// stdin, one JSON object a line:  {"op": "call", "action": A, "params": P}
//                                 {"op": "raw", "text": T}   (sent as is)
//                                 {"op": "answer", "action": A, "result": R}
//                                   (answer the CSMS's A with R from now on)
//                                 {"op": "close"}
// stdout, one JSON object a line: {"event": "open" | "close" | "error" | "result" |
//   "callerror" | "received" | "message" | "invalid", ...}
'use strict';
const readline = require('readline');
const { RPCClient, createValidator } = require('ocpp-rpc');

// ocpp-rpc 2.2.1 ships the official OCPP 2.1 schemas with ids `urn:<Action>Request` /
// `urn:<Action>Response`, but looks them up as `urn:<Action>.req` / `.conf` (the 2.0.1
// naming), so strict mode refuses every 2.1 call as "schema missing". The same schema
// files, re-keyed, make a 2.1 validator that works.
function ocpp21Validator() {
    const schemas = require('ocpp-rpc/lib/schemas/ocpp2_1.json').map((schema) => ({
        ...schema,
        $id: schema.$id.replace(/^urn:(\w+)Request$/, 'urn:$1.req').replace(/^urn:(\w+)Response$/, 'urn:$1.conf'),
    }));
    return createValidator('ocpp2.1', schemas);
}

const fs = require('fs');

const [url, identity, password, protocol] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

function tlsOptions() {
    const read = (name) => (process.env[name] ? fs.readFileSync(process.env[name]) : undefined);
    const options = { ca: read('OCPP_CA'), cert: read('OCPP_CERT'), key: read('OCPP_KEY') };
    return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

const client = new RPCClient({
    endpoint: url,
    identity,
    password: password || null,
    protocols: [protocol],
    wsOpts: tlsOptions(),
    strictMode: true,
    strictModeValidators: [ocpp21Validator()],
    reconnect: false,
    callTimeoutMs: 10000,
});

client.on('message', ({ message, outbound }) => {
    if (!outbound) say({ event: 'message', text: String(message) });
});
client.on('strictValidationFailure', ({ error, outbound, isCall }) =>
    say({ event: 'invalid', outbound, isCall, message: error.message }));

const answers = {};
client.handle(({ method, params }) => {
    say({ event: 'received', action: method, params });
    if (method in answers) return answers[method];
    if (method === 'SetChargingProfile') return { status: 'Accepted' };
    throw Object.assign(new Error(`${method} not scripted`), { rpcErrorCode: 'NotImplemented' });
});

async function run(command) {
    if (command.op === 'answer') {
        answers[command.action] = command.result;
        return;
    }
    if (command.op === 'raw') {
        client.sendRaw(command.text);
        return;
    }
    if (command.op === 'close') {
        await client.close({ code: 1000 });
        return;
    }
    try {
        const result = await client.call(command.action, command.params);
        say({ event: 'result', action: command.action, result });
    } catch (error) {
        say({ event: 'callerror', action: command.action, code: error.rpcErrorCode, message: error.message });
    }
}

client.connect().then(
    () => {
        say({ event: 'open', protocol: client.protocol });
        client.on('close', ({ code, reason }) => {
            say({ event: 'close', code, reason: String(reason) });
            process.exit(0);
        });
        const lines = readline.createInterface({ input: process.stdin });
        let queue = Promise.resolve();
        lines.on('line', (line) => { queue = queue.then(() => run(JSON.parse(line))); });
        lines.on('close', () => queue.then(() => client.close({ code: 1000 })));
    },
    (error) => { say({ event: 'error', message: error.message, status: error.code }); process.exit(0); },
);
