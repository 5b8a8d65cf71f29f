-- searchFacts: trigram indexes on the fact labels (pg_trgm ships with PostgreSQL, embedded server included)
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- AlterTable
ALTER TABLE "attribution_run" ADD COLUMN     "layer_max" REAL[],
ADD COLUMN     "layer_max_unit" INTEGER[],
ADD COLUMN     "layer_positive_sum" REAL[];

-- CreateTable
CREATE TABLE "run_grid" (
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "n_layers" INTEGER NOT NULL,
    "ffn_width" INTEGER NOT NULL,
    "scores" BYTEA NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_grid_pkey" PRIMARY KEY ("run_id","checkpoint_id")
);

-- CreateIndex
CREATE INDEX "degenerate_member_checkpoint_id_layer_unit_idx" ON "degenerate_member"("checkpoint_id", "layer", "unit");

-- CreateIndex
CREATE INDEX "fact_label_subject_trgm" ON "fact_label" USING GIN ("subject" gin_trgm_ops);

-- CreateIndex
CREATE INDEX "fact_label_object_trgm" ON "fact_label" USING GIN ("object" gin_trgm_ops);

-- AddForeignKey
ALTER TABLE "run_grid" ADD CONSTRAINT "run_grid_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;
