-- AlterEnum
ALTER TYPE "attribution_method" ADD VALUE 'static';

-- CreateTable
CREATE TABLE "localization_measure" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "neuron_set" TEXT NOT NULL,
    "draw" SMALLINT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "seed" INTEGER NOT NULL,
    "target_fact_id" TEXT NOT NULL,
    "n_neurons" INTEGER NOT NULL,
    "p_base" DOUBLE PRECISION NOT NULL,
    "suppress_rel" DOUBLE PRECISION NOT NULL,
    "suppress_logp" DOUBLE PRECISION NOT NULL,
    "suppress_flip" BOOLEAN NOT NULL,
    "enhance_rel" DOUBLE PRECISION NOT NULL,
    "enhance_logp" DOUBLE PRECISION NOT NULL,
    "enhance_flip" BOOLEAN NOT NULL,

    CONSTRAINT "localization_measure_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "localization_measure_checkpoint_id_method_language_code_idx" ON "localization_measure"("checkpoint_id", "method", "language_code");

-- AddForeignKey
ALTER TABLE "localization_measure" ADD CONSTRAINT "localization_measure_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
