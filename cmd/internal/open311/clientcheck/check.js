// Drives a Whistle Open311 gateway with the open311 npm package (a GeoReport
// v2 client written elsewhere): discovery, the service list, a service
// definition, a posted request, its token and the request read back.
// Usage: node check.js <gateway base URL> <api_key>. Prints one JSON line of
// what it saw; exits 1, saying what failed, on the first failure.
'use strict';
const Open311 = require('open311');

const [base, apiKey] = process.argv.slice(2);
if (!base || !apiKey) {
  console.error('usage: node check.js <gateway base URL, e.g. http://127.0.0.1:7311> <api_key>');
  process.exit(2);
}

function step(name, fn) {
  return new Promise((resolve, reject) => {
    fn((err, data) => (err ? reject(new Error(name + ': ' + JSON.stringify(data))) : resolve(data)));
  });
}

async function main() {
  const city = new Open311({ discovery: base + '/open311/discovery.json', apiKey });
  const discovery = await step('service discovery', (cb) => city.serviceDiscovery({ cache: true }, cb));
  const services = await step('service list', (cb) => city.serviceList(cb));
  const leak = services.find((s) => s.service_code === 'water_leak');
  if (!leak || leak.metadata !== true) throw new Error('service list has no water_leak with metadata: ' + JSON.stringify(services));
  const definition = await step('service definition', (cb) => city.serviceDefinition('water_leak', cb));
  const floor = definition.attributes.find((a) => a.code === 'floor');
  if (!floor || floor.required !== true) throw new Error('water_leak has no required floor: ' + JSON.stringify(definition));
  const posted = await step('submit request', (cb) => city.submitRequest({
    service_code: 'water_leak', lat: 40.847, long: 111.666, address_string: '东街 8 号',
    description: '二楼水管漏水 (open311 npm client)', attributes: { floor: '2' },
  }, cb));
  const id = posted[0].service_request_id;
  if (!id) throw new Error('submit request answered no service_request_id: ' + JSON.stringify(posted));
  const token = await step('token', (cb) => city.token(posted[0].token, cb));
  if (token[0].service_request_id !== id) throw new Error('token names ' + JSON.stringify(token) + ', not ' + id);
  const read = await step('service request', (cb) => city.serviceRequest(id, cb));
  if (read.length !== 1 || read[0].service_request_id !== id || read[0].status !== 'open' ||
      read[0].description !== '二楼水管漏水 (open311 npm client)' || isNaN(read[0].requested_datetime)) {
    throw new Error('request read back: ' + JSON.stringify(read));
  }
  console.log(JSON.stringify({ endpoint: city.endpoint, endpoints: discovery.endpoints.length, services: services.length,
    attributes: definition.attributes.length, service_request_id: id, status: read[0].status, address_id: read[0].address_id }));
}

main().catch((err) => { console.error('open311 client check failed: ' + err.message); process.exit(1); });
