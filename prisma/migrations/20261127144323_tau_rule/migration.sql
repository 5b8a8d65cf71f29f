-- AlterTable
ALTER TABLE "attribution_run" ADD COLUMN     "tau_rule" JSONB NOT NULL DEFAULT '{"rule": "paper"}';
