-- CreateTable
CREATE TABLE "compute_budget" (
    "identity" TEXT NOT NULL,
    "tokens" DOUBLE PRECISION NOT NULL,
    "at" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "compute_budget_pkey" PRIMARY KEY ("identity")
);

-- rate-limiter state, not data: no WAL (a crash empties it, which only refills every bucket)
ALTER TABLE "compute_budget" SET UNLOGGED;
