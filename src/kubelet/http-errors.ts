// HTTP answers for failures, shared by the kubelet API's routes and its streaming upgrades: typed errors
// map to a status code once, here, and the message text reaches kubectl.
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { NotFoundError, InvalidInputError } from '../errors.js';

export function writeHttpError(socket: Duplex, status: number, message: string): void {
  const body = Buffer.from(`${message}\n`);
  const reason =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      429: 'Too Many Requests',
      500: 'Internal Server Error',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
    }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Maps typed errors to HTTP once, with readable text (kubectl shows it). */
export function errorStatus(e: unknown): number {
  if (e instanceof NotFoundError) return 404;
  if (e instanceof InvalidInputError) return 400;
  return 500;
}

/** Answers a plain route with the error's status and text. */
export function sendError(res: ServerResponse, e: unknown): void {
  sendText(res, errorStatus(e), `${(e as Error).message}\n`);
}

/** A whole text answer (node:http leaves the body out for HEAD). */
export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** A whole JSON answer. */
export function sendJson(res: ServerResponse, value: unknown): void {
  sendText(res, 200, JSON.stringify(value), 'application/json; charset=utf-8');
}
