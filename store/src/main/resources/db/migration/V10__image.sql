-- The container image a task's attempts run in, on a backend that runs images (Kubernetes);
-- null for the backend's default.
alter table tasks add column image text check (image is null or length(image) between 1 and 512);
