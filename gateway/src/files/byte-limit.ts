import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../errors/app-error.js';

/** Passes bytes through and counts them; errors with 413 `payload_too_large` past `maxBytes`. */
export class ByteLimit extends Transform {
  bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      callback(new AppError('payload_too_large', 413, `The file is larger than ${this.maxBytes} bytes.`));
      return;
    }
    callback(null, chunk);
  }
}
