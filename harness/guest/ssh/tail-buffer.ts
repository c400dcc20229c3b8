// Keeps the last `limit` bytes of a stream and counts what it dropped, so a chatty command cannot
// fill the controller's memory while callbacks still see every byte.

export class TailBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    // Drop whole chunks from the head while what is left still covers the limit.
    while (this.chunks.length > 1 && this.kept - this.chunks[0]!.length >= this.limit) {
      this.kept -= this.chunks.shift()!.length;
    }
  }

  /** The kept tail, at most `limit` bytes. */
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks, this.kept);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }

  get droppedBytes(): number {
    return this.total - Math.min(this.kept, this.limit);
  }
}
