-- CreateEnum
CREATE TYPE "architecture" AS ENUM ('MASKED', 'CAUSAL');

-- CreateEnum
CREATE TYPE "edit_kind" AS ENUM ('SUPPRESS', 'ENHANCE', 'ERASE', 'UPDATE');

-- CreateEnum
CREATE TYPE "edit_target" AS ENUM ('LIKN', 'KN', 'EXPLICIT');

-- CreateEnum
CREATE TYPE "edit_status" AS ENUM ('ACTIVE', 'REVERTED');

-- CreateEnum
CREATE TYPE "job_status" AS ENUM ('QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "item_status" AS ENUM ('PENDING', 'DONE', 'FAILED', 'SKIPPED');

-- CreateTable
CREATE TABLE "checkpoint" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "architecture" "architecture" NOT NULL,
    "model_type" TEXT NOT NULL,
    "n_layers" INTEGER NOT NULL,
    "hidden" INTEGER NOT NULL,
    "ffn_width" INTEGER NOT NULL,
    "vocab_size" INTEGER NOT NULL,
    "path" TEXT NOT NULL,
    "content_hash" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "checkpoint_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "language" (
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,

    CONSTRAINT "language_pkey" PRIMARY KEY ("code")
);

-- CreateTable
CREATE TABLE "relation" (
    "id" TEXT NOT NULL,
    "label" TEXT NOT NULL,

    CONSTRAINT "relation_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "template" (
    "id" SERIAL NOT NULL,
    "relation_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "source" TEXT NOT NULL DEFAULT 'mlama',

    CONSTRAINT "template_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "fact" (
    "id" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "subject_uri" TEXT NOT NULL,
    "object_uri" TEXT NOT NULL,

    CONSTRAINT "fact_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "fact_label" (
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "object" TEXT NOT NULL,
    "line_id" INTEGER,

    CONSTRAINT "fact_label_pkey" PRIMARY KEY ("fact_id","language_code")
);

-- CreateTable
CREATE TABLE "wrong_object" (
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "rank" INTEGER NOT NULL,
    "label" TEXT NOT NULL,
    "object_uri" TEXT,

    CONSTRAINT "wrong_object_pkey" PRIMARY KEY ("fact_id","language_code","rank")
);

-- CreateTable
CREATE TABLE "attribution_run" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "steps" INTEGER NOT NULL,
    "target_mode" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "gold_token_ids" INTEGER[],
    "gold_probs" DOUBLE PRECISION[],
    "gold_prob" DOUBLE PRECISION NOT NULL,
    "predicted_ids" INTEGER[],
    "predicted_text" TEXT NOT NULL,
    "predicted_prob" DOUBLE PRECISION NOT NULL,
    "tau" DOUBLE PRECISION NOT NULL,
    "max_score" DOUBLE PRECISION NOT NULL,
    "top_k" INTEGER NOT NULL,
    "n_knowledge" INTEGER NOT NULL,
    "n_layers" INTEGER NOT NULL,
    "ffn_width" INTEGER NOT NULL,
    "timings" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attribution_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "neuron_score" (
    "run_id" BIGINT NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "score" REAL NOT NULL,
    "rank" SMALLINT NOT NULL,

    CONSTRAINT "neuron_score_pkey" PRIMARY KEY ("run_id","layer","unit")
);

-- CreateTable
CREATE TABLE "knowledge_neuron" (
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "score" REAL NOT NULL,
    "rank" SMALLINT NOT NULL,

    CONSTRAINT "knowledge_neuron_pkey" PRIMARY KEY ("run_id","layer","unit")
);

-- CreateTable
CREATE TABLE "language_independent_neuron" (
    "checkpoint_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "languages_key" TEXT NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,

    CONSTRAINT "language_independent_neuron_pkey" PRIMARY KEY ("checkpoint_id","method","languages_key","fact_id","layer","unit")
);

-- CreateTable
CREATE TABLE "degenerate_set" (
    "id" BIGSERIAL NOT NULL,
    "run_id" BIGINT NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "fact_id" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "base_prob" DOUBLE PRECISION NOT NULL,
    "joint_prob" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "degenerate_set_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "degenerate_member" (
    "set_id" BIGINT NOT NULL,
    "layer" SMALLINT NOT NULL,
    "unit" INTEGER NOT NULL,
    "alone_prob" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "degenerate_member_pkey" PRIMARY KEY ("set_id","layer","unit")
);

-- CreateTable
CREATE TABLE "edit" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "kind" "edit_kind" NOT NULL,
    "target" "edit_target" NOT NULL,
    "fact_id" TEXT,
    "language_code" TEXT,
    "neurons" JSONB NOT NULL,
    "params" JSONB NOT NULL,
    "saved_weights" BYTEA,
    "status" "edit_status" NOT NULL DEFAULT 'ACTIVE',
    "applied_by" TEXT NOT NULL,
    "applied_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "reverted_by" TEXT,
    "reverted_at" TIMESTAMP(3),

    CONSTRAINT "edit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "edit_effect" (
    "edit_id" BIGINT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "related" BOOLEAN NOT NULL,
    "prob_before" DOUBLE PRECISION NOT NULL,
    "prob_after" DOUBLE PRECISION NOT NULL,
    "answer_before" TEXT NOT NULL,
    "answer_after" TEXT NOT NULL,

    CONSTRAINT "edit_effect_pkey" PRIMARY KEY ("edit_id","fact_id","language_code")
);

-- CreateTable
CREATE TABLE "fact_check" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "relation_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "object" TEXT NOT NULL,
    "verdict" BOOLEAN NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "neurons" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fact_check_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "localization_result" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "relation_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "unrelated_fact_id" TEXT NOT NULL,
    "n_neurons" INTEGER NOT NULL,
    "suppress_related" DOUBLE PRECISION NOT NULL,
    "suppress_unrelated" DOUBLE PRECISION NOT NULL,
    "enhance_related" DOUBLE PRECISION NOT NULL,
    "enhance_unrelated" DOUBLE PRECISION NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "localization_result_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "index_job" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "steps" INTEGER NOT NULL,
    "target_mode" TEXT NOT NULL,
    "languages" TEXT[],
    "relations" TEXT[],
    "force" BOOLEAN NOT NULL DEFAULT false,
    "status" "job_status" NOT NULL DEFAULT 'QUEUED',
    "total" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "index_job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "index_job_item" (
    "job_id" BIGINT NOT NULL,
    "fact_id" TEXT NOT NULL,
    "language_code" TEXT NOT NULL,
    "status" "item_status" NOT NULL DEFAULT 'PENDING',
    "error" TEXT,
    "run_id" BIGINT,
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "index_job_item_pkey" PRIMARY KEY ("job_id","fact_id","language_code")
);

-- CreateIndex
CREATE UNIQUE INDEX "checkpoint_name_key" ON "checkpoint"("name");

-- CreateIndex
CREATE UNIQUE INDEX "template_relation_id_language_code_text_key" ON "template"("relation_id", "language_code", "text");

-- CreateIndex
CREATE INDEX "fact_relation_id_id_idx" ON "fact"("relation_id", "id");

-- CreateIndex
CREATE INDEX "fact_object_uri_idx" ON "fact"("object_uri");

-- CreateIndex
CREATE INDEX "fact_label_language_code_fact_id_idx" ON "fact_label"("language_code", "fact_id");

-- CreateIndex
CREATE INDEX "attribution_run_checkpoint_id_relation_id_language_code_idx" ON "attribution_run"("checkpoint_id", "relation_id", "language_code");

-- CreateIndex
CREATE UNIQUE INDEX "attribution_run_checkpoint_id_fact_id_language_code_method__key" ON "attribution_run"("checkpoint_id", "fact_id", "language_code", "method", "steps", "target_mode");

-- CreateIndex
CREATE INDEX "knowledge_neuron_checkpoint_id_relation_id_method_layer_uni_idx" ON "knowledge_neuron"("checkpoint_id", "relation_id", "method", "layer", "unit");

-- CreateIndex
CREATE INDEX "knowledge_neuron_checkpoint_id_layer_unit_fact_id_idx" ON "knowledge_neuron"("checkpoint_id", "layer", "unit", "fact_id");

-- CreateIndex
CREATE INDEX "knowledge_neuron_checkpoint_id_fact_id_language_code_idx" ON "knowledge_neuron"("checkpoint_id", "fact_id", "language_code");

-- CreateIndex
CREATE INDEX "language_independent_neuron_checkpoint_id_method_languages__idx" ON "language_independent_neuron"("checkpoint_id", "method", "languages_key", "relation_id", "layer", "unit");

-- CreateIndex
CREATE INDEX "degenerate_set_checkpoint_id_fact_id_language_code_idx" ON "degenerate_set"("checkpoint_id", "fact_id", "language_code");

-- CreateIndex
CREATE INDEX "degenerate_set_checkpoint_id_relation_id_language_code_idx" ON "degenerate_set"("checkpoint_id", "relation_id", "language_code");

-- CreateIndex
CREATE INDEX "edit_checkpoint_id_status_idx" ON "edit"("checkpoint_id", "status");

-- CreateIndex
CREATE INDEX "fact_check_checkpoint_id_relation_id_language_code_idx" ON "fact_check"("checkpoint_id", "relation_id", "language_code");

-- CreateIndex
CREATE INDEX "localization_result_checkpoint_id_method_language_code_rela_idx" ON "localization_result"("checkpoint_id", "method", "language_code", "relation_id");

-- CreateIndex
CREATE UNIQUE INDEX "localization_result_checkpoint_id_method_fact_id_language_c_key" ON "localization_result"("checkpoint_id", "method", "fact_id", "language_code");

-- CreateIndex
CREATE INDEX "index_job_item_job_id_status_idx" ON "index_job_item"("job_id", "status");

-- AddForeignKey
ALTER TABLE "template" ADD CONSTRAINT "template_relation_id_fkey" FOREIGN KEY ("relation_id") REFERENCES "relation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "template" ADD CONSTRAINT "template_language_code_fkey" FOREIGN KEY ("language_code") REFERENCES "language"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "fact" ADD CONSTRAINT "fact_relation_id_fkey" FOREIGN KEY ("relation_id") REFERENCES "relation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "fact_label" ADD CONSTRAINT "fact_label_fact_id_fkey" FOREIGN KEY ("fact_id") REFERENCES "fact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "fact_label" ADD CONSTRAINT "fact_label_language_code_fkey" FOREIGN KEY ("language_code") REFERENCES "language"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "wrong_object" ADD CONSTRAINT "wrong_object_fact_id_fkey" FOREIGN KEY ("fact_id") REFERENCES "fact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "wrong_object" ADD CONSTRAINT "wrong_object_language_code_fkey" FOREIGN KEY ("language_code") REFERENCES "language"("code") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribution_run" ADD CONSTRAINT "attribution_run_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "neuron_score" ADD CONSTRAINT "neuron_score_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "attribution_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "knowledge_neuron" ADD CONSTRAINT "knowledge_neuron_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "attribution_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "knowledge_neuron" ADD CONSTRAINT "knowledge_neuron_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "language_independent_neuron" ADD CONSTRAINT "language_independent_neuron_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "degenerate_set" ADD CONSTRAINT "degenerate_set_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "attribution_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "degenerate_set" ADD CONSTRAINT "degenerate_set_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "degenerate_member" ADD CONSTRAINT "degenerate_member_set_id_fkey" FOREIGN KEY ("set_id") REFERENCES "degenerate_set"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "edit" ADD CONSTRAINT "edit_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "edit_effect" ADD CONSTRAINT "edit_effect_edit_id_fkey" FOREIGN KEY ("edit_id") REFERENCES "edit"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "fact_check" ADD CONSTRAINT "fact_check_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "localization_result" ADD CONSTRAINT "localization_result_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "index_job" ADD CONSTRAINT "index_job_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "index_job_item" ADD CONSTRAINT "index_job_item_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "index_job"("id") ON DELETE CASCADE ON UPDATE CASCADE;
