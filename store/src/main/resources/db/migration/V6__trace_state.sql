-- The submitter's W3C tracestate, passed on to each attempt's process as TRACESTATE beside
-- TRACEPARENT (trace_parent has been kept since V1).
alter table tasks add column trace_state text;
