// Honey Jars on the demo page: create jars, upload files (the raw bytes as the body, streamed
// and encrypted by the gateway), list, download and delete them.
(() => {
  const $ = (id) => document.getElementById(id);
  const { request } = window.gatewayDemo;
  let current = null;

  const call = (method, path, options) => request(method, `/api/jars${path}`, options);

  const button = (label, onClick, className = 'secondary') => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.className = className;
    b.addEventListener('click', onClick);
    return b;
  };

  async function listJars() {
    const list = $('jars-list');
    list.replaceChildren();
    const res = await fetch('/api/jars', { credentials: 'same-origin' });
    if (!res.ok) return;
    const { jars } = await res.json();
    for (const jar of jars) {
      const li = document.createElement('li');
      li.textContent = `${jar.name}${jar.restricted ? ' (restricted)' : ''} — ${jar.role ?? 'owner'} `;
      li.append(button('Open', () => openJar(jar)));
      li.append(
        button('Delete', async () => {
          await call('DELETE', `/${jar.id}`);
          if (current?.id === jar.id) $('jar-detail').hidden = true;
          await listJars();
        }),
      );
      list.append(li);
    }
  }

  async function openJar(jar) {
    current = jar;
    $('jar-detail').hidden = false;
    $('jar-title').textContent = jar.name;
    await listFiles();
  }

  async function listFiles() {
    const list = $('jar-files');
    list.replaceChildren();
    const res = await call('GET', `/${current.id}/files`);
    if (res.status !== 200) return;
    for (const file of res.body.files) {
      const li = document.createElement('li');
      const link = document.createElement('a');
      link.href = `/api/jars/${current.id}/files/${file.id}`;
      link.textContent = file.name;
      link.dataset.fileId = file.id;
      li.append(
        link,
        ` ${file.size} bytes, ${file.contentType}, key v${file.keyVersion} — stored as files/${file.id}.bin `,
      );
      li.append(
        button('Delete', async () => {
          await call('DELETE', `/${current.id}/files/${file.id}`);
          await listFiles();
        }),
      );
      list.append(li);
    }
  }

  $('jar-create-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const res = await call('POST', '', {
      json: { name: form.get('name'), restricted: form.get('restricted') === 'on' },
    });
    if (res.status === 201) {
      event.target.reset();
      await listJars();
      await openJar(res.body);
    }
  });

  $('jar-upload-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = $('jar-file').files[0];
    if (!file || !current) return;
    const res = await call('POST', `/${current.id}/files?name=${encodeURIComponent(file.name)}`, {
      body: file,
      type: file.type || 'application/octet-stream',
    });
    if (res.status === 201) {
      event.target.reset();
      await listFiles();
    }
  });

  document.addEventListener('session-changed', (event) => {
    if (event.detail) listJars();
    else {
      $('jars-list').replaceChildren();
      $('jar-detail').hidden = true;
    }
  });
  listJars();
})();
