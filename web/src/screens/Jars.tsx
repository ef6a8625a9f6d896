import { downloadUrl, uploadFile, type Schema } from '@auth-gateway/client';
import { useCallback, useEffect, useRef, useState } from 'react';
import { gw } from '../gateway';
import { Card, Field, formatBytes, formatDate, Notice, Submit, useTask } from '../ui';

type Jar = Schema<'Jar'>;
type JarFile = Schema<'JarFile'>;
type Grant = Schema<'Grant'>;

function Upload({ jar, onUploaded }: { jar: Jar; onUploaded: () => void }) {
  const task = useTask();
  const input = useRef<HTMLInputElement>(null);
  const [progress, setProgress] = useState<number>();
  return (
    <form
      className="upload"
      aria-label="Upload a file"
      onSubmit={async (e) => {
        e.preventDefault();
        const file = input.current?.files?.[0];
        if (!file) return task.fail('Choose a file first.');
        setProgress(0);
        const result = await task.run(
          () => uploadFile(gw, { jarId: jar.id, file, name: file.name, onProgress: setProgress }),
          `“${file.name}” is uploaded and encrypted.`,
        );
        setProgress(undefined);
        if (result?.ok) {
          if (input.current) input.current.value = '';
          onUploaded();
        }
      }}
    >
      <label htmlFor="jar-file">Add a file</label>
      <input id="jar-file" ref={input} type="file" name="file" />
      <Submit busy={task.busy}>Upload</Submit>
      {progress !== undefined && (
        <progress max={1} value={progress} aria-label="Upload progress">
          {Math.round(progress * 100)}%
        </progress>
      )}
      <Notice task={task} />
    </form>
  );
}

function Grants({ jar }: { jar: Jar }) {
  const task = useTask();
  const loader = useTask();
  const [grants, setGrants] = useState<Grant[]>();
  const [identityId, setIdentityId] = useState('');
  const [role, setRole] = useState<'viewer' | 'editor'>('viewer');
  const { run } = loader;
  const params = { path: { id: jar.id } };

  const load = useCallback(async () => {
    const result = await run(() =>
      gw.run((api) => api.GET('/api/jars/{id}/grants', { params: { path: { id: jar.id } } })),
    );
    if (result?.ok) setGrants(result.data.grants);
  }, [run, jar.id]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="subsection" aria-labelledby="grants-title">
      <h3 id="grants-title">Shared with</h3>
      {grants && grants.length === 0 && <p className="empty">Only you can open this jar.</p>}
      {grants && grants.length > 0 && (
        <ul className="rows" aria-label="People with access">
          {grants.map((g) => (
            <li key={g.identityId} className="row">
              <div className="row-main">
                <code>{g.identityId}</code>
                <small>{g.role === 'editor' ? 'Can add and delete files' : 'Can read files'}</small>
              </div>
              <button
                type="button"
                className="danger"
                onClick={async () => {
                  const result = await task.run(
                    () =>
                      gw.run((api) =>
                        api.DELETE('/api/jars/{id}/grants/{identityId}', {
                          params: { path: { id: jar.id, identityId: g.identityId } },
                        }),
                      ),
                    'Access removed.',
                  );
                  if (result?.ok) void load();
                }}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="inline"
        aria-label="Share this jar"
        onSubmit={async (e) => {
          e.preventDefault();
          const result = await task.run(
            () =>
              gw.run((api) =>
                api.PUT('/api/jars/{id}/grants/{identityId}', {
                  params: { path: { ...params.path, identityId: identityId.trim() } },
                  body: { role },
                }),
              ),
            'Access granted.',
          );
          if (result?.ok) {
            setIdentityId('');
            void load();
          }
        }}
      >
        <Field
          label="Account id to share with"
          name="grant-identity"
          value={identityId}
          onChange={setIdentityId}
          required
        />
        <div className="field">
          <label htmlFor="grant-role">Access</label>
          <select
            id="grant-role"
            value={role}
            onChange={(e) => setRole(e.target.value as 'viewer' | 'editor')}
          >
            <option value="viewer">Can read files</option>
            <option value="editor">Can add and delete files</option>
          </select>
        </div>
        <Submit busy={task.busy}>Share</Submit>
      </form>
      <Notice task={task} />
      <Notice task={loader} />
    </section>
  );
}

function JarDetail({ jar, onDeleted }: { jar: Jar; onDeleted: () => void }) {
  const task = useTask();
  const loader = useTask();
  const [files, setFiles] = useState<JarFile[]>();
  const { run } = loader;
  const params = { path: { id: jar.id } };

  const load = useCallback(async () => {
    const result = await run(() =>
      gw.run((api) => api.GET('/api/jars/{id}/files', { params: { path: { id: jar.id } } })),
    );
    if (result?.ok) setFiles(result.data.files);
  }, [run, jar.id]);

  useEffect(() => {
    void load();
  }, [load]);

  const canWrite = jar.role !== 'viewer';
  return (
    <Card title={jar.name} id="jar-detail">
      <p className="aside">
        {jar.role === 'owner' ? 'Your jar' : `Shared with you (${jar.role})`}
        {jar.restricted ? ' · restricted: opening it needs a second factor' : ''}
      </p>
      {files && files.length === 0 && <p className="empty">No files yet.</p>}
      {files && files.length > 0 && (
        <ul className="rows" aria-label="Files">
          {files.map((f) => (
            <li key={f.id} className="row" data-testid="file">
              <div className="row-main">
                <a href={downloadUrl(gw, jar.id, f.id)} download={f.name} data-file-id={f.id}>
                  {f.name}
                </a>
                <small>
                  {formatBytes(f.size)} · {formatDate(f.createdAt)}
                </small>
              </div>
              {canWrite && (
                <button
                  type="button"
                  className="danger"
                  onClick={async () => {
                    if (!window.confirm(`Delete “${f.name}”?`)) return;
                    const result = await task.run(
                      () =>
                        gw.run((api) =>
                          api.DELETE('/api/jars/{id}/files/{fileId}', {
                            params: { path: { id: jar.id, fileId: f.id } },
                          }),
                        ),
                      'File deleted.',
                    );
                    if (result?.ok) void load();
                  }}
                >
                  Delete
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <Notice task={task} />
      <Notice task={loader} />
      {canWrite && <Upload jar={jar} onUploaded={() => void load()} />}
      {jar.role === 'owner' && <Grants jar={jar} />}
      {jar.role === 'owner' && (
        <button
          type="button"
          className="danger delete-jar"
          onClick={async () => {
            if (!window.confirm(`Delete the jar “${jar.name}” and all its files?`)) return;
            const result = await task.run(() => gw.run((api) => api.DELETE('/api/jars/{id}', { params })));
            if (result?.ok) onDeleted();
          }}
        >
          Delete this jar
        </button>
      )}
    </Card>
  );
}

/** Honey Jars: encrypted file collections, yours and those shared with you. */
export function Jars() {
  const task = useTask();
  const create = useTask();
  const [jars, setJars] = useState<Jar[]>();
  const [selected, setSelected] = useState<string>();
  const [name, setName] = useState('');
  const [restricted, setRestricted] = useState(false);
  const { run } = task;

  const load = useCallback(async () => {
    const result = await run(() => gw.run((api) => api.GET('/api/jars')));
    if (result?.ok) setJars(result.data.jars);
  }, [run]);

  useEffect(() => {
    void load();
  }, [load]);

  const jar = jars?.find((j) => j.id === selected);
  return (
    <div className="jars">
      <Card title="Honey Jars" id="jars">
        <p className="aside">Every file is encrypted with its own key before it is stored.</p>
        {jars && jars.length === 0 && <p className="empty">No jars yet: create your first one below.</p>}
        {jars && jars.length > 0 && (
          <ul className="jar-list" aria-label="Your jars">
            {jars.map((j) => (
              <li key={j.id}>
                <button
                  type="button"
                  className={j.id === selected ? 'jar selected' : 'jar'}
                  aria-pressed={j.id === selected}
                  onClick={() => setSelected(j.id)}
                >
                  <span>{j.name}</span>
                  <small>{j.role === 'owner' ? (j.restricted ? 'restricted' : 'yours') : j.role}</small>
                </button>
              </li>
            ))}
          </ul>
        )}
        <Notice task={task} />
        <form
          className="stack"
          aria-label="Create a jar"
          onSubmit={async (e) => {
            e.preventDefault();
            const result = await create.run(() =>
              gw.run((api) => api.POST('/api/jars', { body: { name: name.trim(), restricted } })),
            );
            if (result?.ok) {
              setName('');
              setRestricted(false);
              setSelected(result.data.id);
              void load();
            }
          }}
        >
          <Field label="New jar’s name" name="jar-name" value={name} onChange={setName} required />
          <label className="check">
            <input type="checkbox" checked={restricted} onChange={(e) => setRestricted(e.target.checked)} />
            Restricted: opening it needs a second factor
          </label>
          <Submit busy={create.busy}>Create jar</Submit>
        </form>
        <Notice task={create} />
      </Card>
      {jar && (
        <JarDetail
          key={jar.id}
          jar={jar}
          onDeleted={() => {
            setSelected(undefined);
            void load();
          }}
        />
      )}
    </div>
  );
}
