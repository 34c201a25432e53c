// The parts of hdr-histogram-js that mesh uses, without the package's index. Its index loads the WebAssembly
// build too (a base64 module, pako, the AssemblyScript loader): about 15 MiB of RSS in every proxy process,
// for a build mesh never asks for. The plain-JS histogram classes cost about 1 MiB. The compressed encoding
// (which needs pako) is only for shipping windows between `--workers N` processes, so it loads on first use.
// The deep paths are checked against the package's own exports by test/unit/core/lean-deps.test.ts.
import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';

type HdrModule = typeof import('hdr-histogram-js');
type BuildRequest = NonNullable<Parameters<HdrModule['build']>[0]>;
type HistogramConstructor = new (lowest: number, highest: number, digits: number) => Histogram;

const load = createRequire(import.meta.url);
const factory = load('hdr-histogram-js/dist/JsHistogramFactory.js') as { constructorFromBucketSize(bits: number | 'packed'): HistogramConstructor };

/** hdr-histogram-js's `build`, JavaScript histograms only (mesh never sets useWebAssembly). */
export function build(request: BuildRequest): Histogram {
  const Constructor = factory.constructorFromBucketSize(request.bitBucketSize ?? 32);
  const histogram = new Constructor(request.lowestDiscernibleValue ?? 1, request.highestTrackableValue ?? 2, request.numberOfSignificantValueDigits ?? 3);
  histogram.autoResize = request.autoResize ?? true;
  return histogram;
}

let encoding: Pick<HdrModule, 'encodeIntoCompressedBase64' | 'decodeFromCompressedBase64'> | undefined;
const encoder = () => (encoding ??= load('hdr-histogram-js/dist/encoding.js') as typeof encoding & object);

export const encodeIntoCompressedBase64: HdrModule['encodeIntoCompressedBase64'] = (histogram, compressionLevel) => encoder().encodeIntoCompressedBase64(histogram, compressionLevel);
export const decodeFromCompressedBase64: HdrModule['decodeFromCompressedBase64'] = (base64, bitBucketSize, useWebAssembly, minHighest) => encoder().decodeFromCompressedBase64(base64, bitBucketSize, useWebAssembly, minHighest);
