// EcoMind's outside check (components/synthetics.py): one step per HTTP service, each a GET of
// the service's health path through the ALB. The program sets the base URL and the steps;
// a step fails on any status outside 200-299 (Synthetics executeHttpStep without a callback).
const synthetics = require('@aws/synthetics-puppeteer');

exports.handler = async () => {
  const base = new URL(process.env.ECOMIND_BASE_URL);
  const checks = JSON.parse(process.env.ECOMIND_CHECKS);
  for (const check of checks) {
    await synthetics.executeHttpStep(check.name, {
      protocol: base.protocol,
      hostname: base.hostname,
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      path: check.path,
      method: 'GET',
      headers: check.headers,
    });
  }
};
