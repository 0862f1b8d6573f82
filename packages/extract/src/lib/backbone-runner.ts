/**
 * What extraction needs of a backbone: embed a batch of preprocessed images. Extraction code sees
 * only this interface, so tests can run the whole path with a stand-in and the tfjs network stays
 * behind one adapter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { IResNetInference } from '@facecoreset/model';

export interface BackboneEmbeddings {
  /** Unit-length embeddings [B, D], row-major. */
  embedding: Float32Array;
  /** Norms of the embeddings before normalisation [B]. */
  norm: Float32Array;
}

export interface BackboneRunner {
  /** Side of the square input in pixels. */
  inputSize: number;
  /** Embedding length D. */
  embeddingSize: number;
  /**
   * @param input float32 [B, S, S, 3] NHWC, BGR, (x/255 - 0.5)/0.5
   * @param batch B
   */
  embed(input: Float32Array, batch: number): Promise<BackboneEmbeddings>;
}

/** The eval-mode IResNet on the current tfjs backend as a BackboneRunner (the caller disposes the model). */
export function tfjsBackboneRunner(model: IResNetInference): BackboneRunner {
  const size = model.config.inputSize;
  return {
    inputSize: size,
    embeddingSize: model.config.embeddingSize,
    async embed(input, batch) {
      if (input.length !== batch * size * size * 3) {
        throw new Error(`backbone embed: expected [${batch}, ${size}, ${size}, 3] = ${batch * size * size * 3} values, got ${input.length}`);
      }
      const x = tf.tensor4d(input, [batch, size, size, 3]);
      const out = model.forward(x);
      try {
        const [embedding, norm] = await Promise.all([out.embedding.data(), out.norm.data()]);
        return { embedding: embedding as Float32Array, norm: norm as Float32Array };
      } finally {
        tf.dispose([x, out.embedding, out.norm]);
      }
    },
  };
}
