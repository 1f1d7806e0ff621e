import { createBrowserRouter, Navigate } from 'react-router-dom';
import { HostPage } from '../pages/HostPage';
import { HostsPage } from '../pages/HostsPage';
import { NotFoundPage } from '../pages/NotFoundPage';
import { SearchPage } from '../pages/SearchPage';
import { Layout } from './Layout';

export const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: '/', element: <Navigate to="/hosts" replace /> },
      { path: '/hosts', element: <HostsPage /> },
      { path: '/hosts/:agentId', element: <HostPage /> },
      { path: '/search', element: <SearchPage /> },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
]);
