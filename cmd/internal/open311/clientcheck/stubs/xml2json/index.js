// The open311 client requires xml2json for XML; the check speaks JSON, so any use of it is a failure.
module.exports = new Proxy({}, { get(_, name) { throw new Error('xml2json.' + String(name) + ': XML is not used by this check'); } });
