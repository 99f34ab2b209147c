// A CSMS scripted over stdin/stdout, built on ocpp-rpc's RPCServer in strict mode.
//
//   node csms.js PORT IDENTITY PASSWORD PROTOCOL
//
// Accepts one station (IDENTITY with PASSWORD), answers its requests and reports them:
// stdout {"event": "listening" | "connected" | "received" | "result" | "callerror" |
// "invalid" | "disconnected", ...}; stdin {"op": "call", "action": A, "params": P}
// calls the station.
'use strict';
const readline = require('readline');
const { RPCServer, createValidator } = require('ocpp-rpc');

const [port, identity, password, protocol] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

// ocpp-rpc 2.2.1 keys its 2.1 schemas `urn:<Action>Request` but looks up
// `urn:<Action>.req`: the same files, re-keyed (see station.js).
function ocpp21Validator() {
    const schemas = require('ocpp-rpc/lib/schemas/ocpp2_1.json').map((schema) => ({
        ...schema,
        $id: schema.$id.replace(/^urn:(\w+)Request$/, 'urn:$1.req').replace(/^urn:(\w+)Response$/, 'urn:$1.conf'),
    }));
    return createValidator('ocpp2.1', schemas);
}

const server = new RPCServer({
    protocols: [protocol],
    strictMode: true,
    strictModeValidators: [ocpp21Validator()],
});

server.auth((accept, reject, handshake) => {
    const given = handshake.password ? handshake.password.toString('utf8') : '';
    if (handshake.identity === identity && given === password) accept();
    else reject(401);
});

let station = null;
server.on('client', (client) => {
    station = client;
    say({ event: 'connected', protocol: client.protocol });
    client.on('strictValidationFailure', ({ error, outbound, isCall }) =>
        say({ event: 'invalid', outbound, isCall, message: error.message }));
    client.on('close', () => say({ event: 'disconnected' }));
    client.handle(({ method, params }) => {
        say({ event: 'received', action: method, params });
        const now = new Date().toISOString();
        switch (method) {
            case 'BootNotification': return { currentTime: now, interval: 300, status: 'Accepted' };
            case 'Heartbeat': return { currentTime: now };
            case 'NotifyEVChargingNeeds': return { status: 'Accepted' };
            default: return {};
        }
    });
});

server.listen(Number(port), '127.0.0.1').then(() => {
    say({ event: 'listening' });
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', async (line) => {
        const command = JSON.parse(line);
        try {
            const result = await station.call(command.action, command.params);
            say({ event: 'result', action: command.action, result });
        } catch (error) {
            say({ event: 'callerror', action: command.action, code: error.rpcErrorCode, message: error.message });
        }
    });
});
